{#- A dbt var holding an ISO 4217 alphabetic code, as a SQL string literal;
    fails at compile time on anything else (never spliced unchecked). -#}
{% macro currency_var(name, default) -%}
    {%- set value = var(name, default) | string | trim -%}
    {%- if not modules.re.match('^[A-Z]{3}$', value) -%}
        {{ exceptions.raise_compiler_error("var '" ~ name ~ "' must be an ISO 4217 code such as USD, got: " ~ value) }}
    {%- endif -%}
    '{{ value }}'
{%- endmacro %}

{#- A dbt var holding a whole number of days >= 0. -#}
{% macro days_var(name, default) -%}
    {%- set value = var(name, default) | string | trim -%}
    {%- if not modules.re.match('^[0-9]+$', value) -%}
        {{ exceptions.raise_compiler_error("var '" ~ name ~ "' must be a whole number of days, got: " ~ value) }}
    {%- endif -%}
    {{ value }}
{%- endmacro %}

{#- Country text as matched against codes, names and aliases: trimmed, inner
    whitespace runs collapsed to one space, upper case. -#}
{% macro normalized_country_text(expr) -%}
    {{ return(adapter.dispatch('normalized_country_text', 'shop_analytics')(expr)) }}
{%- endmacro %}

{% macro default__normalized_country_text(expr) -%}
    upper(regexp_replace(trim({{ expr }}), '\s+', ' ', 'g'))
{%- endmacro %}

{#- Spark's regexp_replace replaces every match (its 4th argument is a position, not flags). The
    class is RE2's \s exactly (Java's \s also matches a vertical tab); the backslashes are doubled
    because Spark's string literals unescape them. -#}
{% macro spark__normalized_country_text(expr) -%}
    upper(regexp_replace(trim({{ expr }}), '[\\t\\n\\f\\r ]+', ' '))
{%- endmacro %}
