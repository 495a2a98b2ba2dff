{#- One row per batch and quarantine reason: the lake's quarantined_by_reason
    (a list of {reason, rows} structs) unnested, with one row of NULL reason and
    0 rows for a batch that quarantined nothing, so every batch stays visible and
    readers (BI tools, SQLAlchemy) see plain columns. -#}
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
        cast(contract_version as integer) as contract_version,
        cast(committed_at as timestamp) as committed_at,
        cast(commit_seq as bigint) as commit_seq,
        unnest(
            case
                when coalesce(len(quarantined_by_reason), 0) = 0
                    then [{'reason': null, 'rows': 0}]
                else quarantined_by_reason
            end
        ) as reason_count

    from source

),

flattened as (

    select
        * exclude (reason_count),
        cast(struct_extract(reason_count, 'reason') as varchar) as reason,
        cast(coalesce(struct_extract(reason_count, 'rows'), 0) as bigint) as reason_rows

    from renamed

)

select * from flattened
