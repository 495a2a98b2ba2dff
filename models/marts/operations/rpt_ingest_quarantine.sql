with

ingest_audit as (

    select * from {{ ref('stg_shop__ingest_audit') }}

),

reasons as (

    select
        ingest_audit.source_name,
        ingest_audit.batch_id,
        ingest_audit.batch_status,
        ingest_audit.contract_version,
        ingest_audit.committed_at,
        ingest_audit.rows_in,
        ingest_audit.rows_admitted,
        ingest_audit.rows_quarantined,
        unnest(ingest_audit.quarantined_by_reason, recursive := true)

    from ingest_audit

),

final as (

    select
        source_name,
        batch_id,
        reason,
        cast("rows" as bigint) as quarantined_rows,
        cast(rows_in as bigint) as batch_rows_in,
        cast(rows_quarantined as bigint) as batch_rows_quarantined,
        cast("rows" as double) / nullif(rows_in, 0) as share_of_batch,
        batch_status,
        contract_version,
        committed_at

    from reasons

)

select * from final
