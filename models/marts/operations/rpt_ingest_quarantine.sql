with

ingest_audit as (

    select * from {{ ref('stg_shop__ingest_audit') }}

),

final as (

    -- Batches that quarantined nothing carry one NULL reason in staging: not a report row.
    select
        source_name,
        batch_id,
        reason,
        reason_rows as quarantined_rows,
        rows_in as batch_rows_in,
        rows_quarantined as batch_rows_quarantined,
        cast(reason_rows as double) / nullif(rows_in, 0) as share_of_batch,
        batch_status,
        contract_version,
        committed_at

    from ingest_audit
    where reason is not null

)

select * from final
