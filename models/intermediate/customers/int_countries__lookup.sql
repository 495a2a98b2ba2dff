{#- Every text that resolves to a country, with the rank of its kind: an
    alpha-2 code, an alpha-3 code, an alias from seeds/country_aliases.csv, or
    the ISO short name. A text matching several entries resolves by the lowest
    rank (then the smallest alpha2), so the lookup is unique on lookup_text. -#}
with

countries as (

    select * from {{ ref('countries') }}

),

aliases as (

    select * from {{ ref('country_aliases') }}

),

candidates as (

    select
        upper(alpha2) as lookup_text,
        upper(alpha2) as alpha2,
        1 as match_rank,
        'valid' as country_status
    from countries
    union all
    select
        upper(alpha3) as lookup_text,
        upper(alpha2) as alpha2,
        2 as match_rank,
        'valid' as country_status
    from countries
    union all
    select
        {{ normalized_country_text('alias') }} as lookup_text,
        upper(alpha2) as alpha2,
        3 as match_rank,
        'alias' as country_status
    from aliases
    union all
    select
        {{ normalized_country_text('name') }} as lookup_text,
        upper(alpha2) as alpha2,
        4 as match_rank,
        'alias' as country_status
    from countries

),

resolved as (

    select * from candidates
    where lookup_text is not null and lookup_text <> ''
    qualify row_number() over (partition by lookup_text order by match_rank, alpha2) = 1

)

select * from resolved
