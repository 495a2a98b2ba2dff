{#- Exact money arithmetic (docs/marts.md, "Currencies").
    money_decimal(amount): a lake amount (DOUBLE, whole minor units, at most 1e13) as
    DECIMAL(18, 4), exactly. DuckDB's DOUBLE -> DECIMAL cast scales in binary: exact while
    amount * 10^4 stays far below 2^53 (below 1e11, checked on millions of values), off in
    the 4th place from about 9e11 on (9876543210987.65 -> .6496). Larger amounts go through
    their shortest decimal text, which is exact but about 8 times slower, so only they do.

    Conversion with a DOUBLE exchange rate:
    The rate counts as its shortest decimal text (`1.6975`, `1.2345678901234e-07`: the
    number it was written as, not its binary neighbour), every digit of it: no fixed
    number of decimal places, so a tiny rate with 20 decimals or a large one keeps
    all its significant digits.
    rate_mantissa(rate) and rate_scale(rate): that text as an integer mantissa M and a
    power of ten k, rate = M / 10^k (k < 0 for a text with a positive exponent). Parse
    them once per rate, not per line.
    times_rate_exactly(amount, mantissa, scale): amount (DECIMAL(18, 4), >= 0 or not)
    times M / 10^k, rounded half away from zero once, to DECIMAL(18, 4). In HUGEINT:
    the amount in 0.0001 units is below 10^18 and M below 10^18 (at most 17 significant
    digits and a few zeros), so 2 * amount * M stays below HUGEINT's 1.7e38; for k > 36
    the exact product is below 0.00005 and rounds to 0. A product beyond DECIMAL(18, 4)
    fails the build (overflow), never wraps. -#}
{% macro times_rate_exactly(amount, mantissa, scale) -%}
    {{ return(adapter.dispatch('times_rate_exactly', 'shop_analytics')(amount, mantissa, scale)) }}
{%- endmacro %}

{#- A DOUBLE's text: DuckDB's shortest decimal (`1.6975`, `1.2345678901234e-07`). -#}
{% macro rate_text_pattern() -%}
    {{ return(adapter.dispatch('rate_text_pattern', 'shop_analytics')()) }}
{%- endmacro %}

{% macro default__rate_text_pattern() -%}
    '^([0-9]+)(\.([0-9]+))?(e([-+][0-9]+))?$'
{%- endmacro %}

{#- Spark writes Java's Double.toString: `1.0`, `1.2345678901234E-7`, `1.0E7` (an upper-case E,
    no `+`). [.] because a backslash is an escape in Spark's string literals. -#}
{% macro spark__rate_text_pattern() -%}
    '^([0-9]+)([.]([0-9]+))?([eE]([-+]?[0-9]+))?$'
{%- endmacro %}

{#- `string`: the type name both engines accept (DuckDB reads it as VARCHAR). -#}
{% macro rate_mantissa(rate) -%}
    cast(
        regexp_extract(cast({{ rate }} as string), {{ rate_text_pattern() }}, 1)
        || regexp_extract(cast({{ rate }} as string), {{ rate_text_pattern() }}, 3)
        as {{ exact_integer_type() }}
    )
{%- endmacro %}

{% macro rate_scale(rate) -%}
    (
        length(regexp_extract(cast({{ rate }} as string), {{ rate_text_pattern() }}, 3))
        - coalesce(cast(nullif(regexp_extract(cast({{ rate }} as string), {{ rate_text_pattern() }}, 5), '') as integer), 0)
    )
{%- endmacro %}

{% macro default__times_rate_exactly(amount, mantissa, scale) -%}
    {%- set units = 'cast(cast(' ~ amount ~ ' as decimal(38, 4)) * 10000 as hugeint) * ' ~ mantissa -%}
    {%- set power = "cast('1' || repeat('0', least(abs(" ~ scale ~ "), 36)) as hugeint)" -%}
    cast(cast(
        case
            when {{ scale }} <= 0 then {{ units }} * {{ power }}
            when {{ scale }} > 36 then 0
            else sign({{ units }}) * ((2 * abs({{ units }}) + {{ power }}) // (2 * {{ power }}))
        end as decimal(38, 0)
    ) * 0.0001 as decimal(18, 4))
{%- endmacro %}

{#- As default__times_rate_exactly; Spark's sign() is a DOUBLE, so the sign is a case. -#}
{% macro spark__times_rate_exactly(amount, mantissa, scale) -%}
    {%- set units = 'cast(cast(' ~ amount ~ ' as decimal(38, 4)) * 10000 as ' ~ exact_integer_type() ~ ')'
        ~ ' * ' ~ mantissa -%}
    {%- set power = "cast('1' || repeat('0', least(abs(" ~ scale ~ "), 36)) as " ~ exact_integer_type() ~ ")" -%}
    {%- set rounded = integer_divide('(2 * abs(' ~ units ~ ') + ' ~ power ~ ')', '(2 * ' ~ power ~ ')') -%}
    cast(cast(
        case
            when {{ scale }} <= 0 then {{ units }} * {{ power }}
            when {{ scale }} > 36 then 0
            when {{ units }} < 0 then -{{ rounded }}
            else {{ rounded }}
        end as decimal(38, 0)
    ) * 0.0001 as decimal(18, 4))
{%- endmacro %}

{% macro money_decimal(amount) -%}
    case
        when abs({{ amount }}) < 1e11 then cast({{ amount }} as decimal(18, 4))
        else cast(cast({{ amount }} as string) as decimal(18, 4))
    end
{%- endmacro %}
