{#- Users with their country resolved (docs/marts.md, "Countries"):
    country_status is `valid` (an ISO alpha-2 or alpha-3 code), `alias` (an
    alias or the ISO name), `unknown` (anything else; country_code NULL) or
    `missing` (NULL or blank). Nobody is dropped: a bad country is a flagged
    attribute, and the user's facts stay in every revenue figure. -#}
with

users as (

    select * from {{ ref('stg_shop__users') }}

),

lookup as (

    select * from {{ ref('int_countries__lookup') }}

),

countries as (

    select * from {{ ref('countries') }}

),

resolved as (

    -- lookup is unique on lookup_text and countries on alpha2, so neither join fans out.
    select
        users.*,
        lookup.alpha2 as country_code,
        countries.name as country_name,
        countries.region as country_region,
        case
            when coalesce({{ normalized_country_text('users.country_raw') }}, '') = '' then 'missing'
            when lookup.alpha2 is null then 'unknown'
            else lookup.country_status
        end as country_status

    from users
    left join lookup on {{ normalized_country_text('users.country_raw') }} = lookup.lookup_text
    left join countries on lookup.alpha2 = upper(countries.alpha2)

)

select * from resolved
