with

ingest_audit as (

    select * from {{ ref('stg_shop__ingest_audit') }}

),

reasons as (

    select
        source_name,
        batch_id,
        batch_status,
        contract_version,
        committed_at,
        rows_in,
        rows_admitted,
        rows_quarantined,
        unnest(quarantined_by_reason) as reason_count

    from ingest_audit

),

final as (

    select
        source_name,
        batch_id,
        struct_extract(reason_count, 'reason') as reason,
        cast(struct_extract(reason_count, 'rows') as bigint) as quarantined_rows,
        cast(rows_in as bigint) as batch_rows_in,
        cast(rows_quarantined as bigint) as batch_rows_quarantined,
        cast(struct_extract(reason_count, 'rows') as double) / nullif(rows_in, 0) as share_of_batch,
        batch_status,
        contract_version,
        committed_at

    from reasons

)

select * from final
