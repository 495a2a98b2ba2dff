with

source as (

    select * from {{ source('shop', 'page_views') }}

),

renamed as (

    select
        cast(page_view_id as bigint) as page_view_id,
        cast(user_id as bigint) as user_id,
        cast(item_id as bigint) as item_id,
        cast(viewed_at as timestamp) as viewed_at,
        cast(event_date as date) as event_date,
        {{ lake_batch_id('filename') }} as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        source.* exclude (page_view_id, user_id, item_id, viewed_at, event_date, filename)

    from source

),

deduplicated as (

    -- A replayed event repeats its timestamp, so duplicates share event_date.
    -- Partitioning by it keeps date filters pushed down to the partition scan.
    select * from renamed
    qualify row_number() over (
        partition by event_date, page_view_id order by batch_id
    ) = 1

)

select
    *,
    user_id is not null as is_authenticated,
    {{ is_late_arriving('event_date', 'batch_id') }} as is_late_arriving

from deduplicated
