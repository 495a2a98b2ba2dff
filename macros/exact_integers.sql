{#- Exact integer arithmetic beyond BIGINT (exact_money.sql, the reversal allocation). -#}

{#- An integer type of at least 38 digits: DuckDB's HUGEINT, Spark's DECIMAL(38, 0). -#}
{% macro exact_integer_type() -%}
    {{ return(adapter.dispatch('exact_integer_type', 'shop_analytics')()) }}
{%- endmacro %}

{% macro default__exact_integer_type() -%}
    hugeint
{%- endmacro %}

{% macro spark__exact_integer_type() -%}
    decimal(38, 0)
{%- endmacro %}

{#- dividend / divisor truncated toward zero, exactly. Written without parentheses on DuckDB
    (`//` binds like `*`, so `a * b // c` is `(a * b) // c`). -#}
{% macro integer_divide(dividend, divisor) -%}
    {{ return(adapter.dispatch('integer_divide', 'shop_analytics')(dividend, divisor)) }}
{%- endmacro %}

{% macro default__integer_divide(dividend, divisor) -%}
    {{ dividend }} // {{ divisor }}
{%- endmacro %}

{#- Spark's `div` returns a BIGINT and wraps silently beyond it; `%` of two decimals is
    exact and takes the dividend's sign, so the difference divides exactly (a quotient
    beyond 32 digits fails under ANSI mode, never wraps). -#}
{% macro spark__integer_divide(dividend, divisor) -%}
    cast((({{ dividend }}) - ({{ dividend }}) % ({{ divisor }})) / ({{ divisor }}) as decimal(38, 0))
{%- endmacro %}

{#- The share of `amount` (DECIMAL(18, 4)) that the units (start, end] of `quantity` carry:
    floor(amount * end / quantity) - floor(amount * start / quantity) on a 0.0001 grid, so
    consecutive shares add up exactly to the amount (int_order_line_reversals__allocated). -#}
{% macro allocated_amount(amount, units_start, units_end, quantity) -%}
    {%- set scaled = 'cast(' ~ amount ~ ' * 10000 as ' ~ exact_integer_type() ~ ')' -%}
    cast(cast((
        {{ integer_divide(scaled ~ ' * ' ~ units_end, quantity) }}
        - {{ integer_divide(scaled ~ ' * ' ~ units_start, quantity) }}
    ) as decimal(38, 0)) * 0.0001 as decimal(18, 4))
{%- endmacro %}
