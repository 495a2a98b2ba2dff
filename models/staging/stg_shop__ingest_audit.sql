{#- quarantined_by_reason is a list of {reason, rows} structs (one per
    quarantine reason of the batch). -#}
{%- set lake = lake_source('ingest_audit', {
    'source': 'varchar',
    'batch_id': 'varchar',
    'status': 'varchar',
    'rows_in': 'bigint',
    'rows_admitted': 'bigint',
    'rows_quarantined': 'bigint',
    'quarantined_by_reason': 'struct(reason varchar, "rows" bigint)[]',
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
        cast(source as varchar) as source_name,
        cast(batch_id as varchar) as batch_id,
        cast(status as varchar) as batch_status,
        cast(rows_in as bigint) as rows_in,
        cast(rows_admitted as bigint) as rows_admitted,
        cast(rows_quarantined as bigint) as rows_quarantined,
        quarantined_by_reason,
        cast(contract_version as integer) as contract_version,
        cast(committed_at as timestamp) as committed_at,
        cast(commit_seq as bigint) as commit_seq

    from source

)

select * from renamed
