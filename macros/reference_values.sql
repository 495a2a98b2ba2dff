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
    upper(regexp_replace(trim({{ expr }}), '\s+', ' ', 'g'))
{%- endmacro %}
