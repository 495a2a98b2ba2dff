{#- One row per batch and quarantine reason: the lake's quarantined_by_reason
    (a list of {reason, rows} structs) unnested, with one row of NULL reason and
    0 rows for a batch that quarantined nothing, so every batch stays visible and
    readers (BI tools, SQLAlchemy) see plain columns. -#}
{%- set lake = lake_source('ingest_audit', {
    'source': 'string',
    'batch_id': 'string',
    'status': 'string',
    'rows_in': 'bigint',
    'rows_admitted': 'bigint',
    'rows_quarantined': 'bigint',
    'quarantined_by_reason': quarantine_reasons_type(),
    'contract_version': 'integer',
    'committed_at': 'timestamp',
    'commit_seq': 'bigint',
}) -%}
with

source as (

    select * from {{ lake }}

),

renamed as (

    select
        cast(source as string) as source_name,
        cast(batch_id as string) as batch_id,
        cast(status as string) as batch_status,
        cast(rows_in as bigint) as rows_in,
        cast(rows_admitted as bigint) as rows_admitted,
        cast(rows_quarantined as bigint) as rows_quarantined,
        cast(contract_version as integer) as contract_version,
        cast(committed_at as timestamp) as committed_at,
        cast(commit_seq as bigint) as commit_seq,
        {{ quarantine_reasons_unnested('quarantined_by_reason') }} as reason_count

    from source

),

flattened as (

    select
        source_name,
        batch_id,
        batch_status,
        rows_in,
        rows_admitted,
        rows_quarantined,
        contract_version,
        committed_at,
        commit_seq,
        -- Fields of the struct reason_count (not table references), on both engines.
        cast(reason_count.reason as string) as reason,  -- noqa: RF03
        cast(coalesce(reason_count.{{ adapter.quote('rows') }}, 0) as bigint) as reason_rows

    from renamed

)

select * from flattened
