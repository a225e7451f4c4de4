{#- Body of a `base_<source>__<entity>` model: the latest version of every record in a raw table
    (data-contract.md section 3), tombstones kept as rows with `is_deleted = true` so that later layers
    can drop them. Incremental: only raw rows loaded after the newest `_loaded_at` already processed
    are read, ranked together with the current row of the same records, and merged on `record_id`.
    Ranking: newest `version_ts`; on a tie a tombstone wins, then the larger `record_hash`, so the
    result is the same whether the history arrives in one batch or in many. -#}
{% macro latest_versions(source_name, table_name) %}
with incoming as (
    select record_id, version_ts, is_deleted, payload, record_hash, _batch_id, _loaded_at
    from {{ source(source_name, table_name) }}
    {%- if is_incremental() %}
    -- an empty table (nothing landed yet) has no watermark: read everything
    where _loaded_at > (
        select coalesce(max(_loaded_at), cast('1970-01-01 00:00:00+00' as timestamp with time zone)) from {{ this }}
    )
    {%- endif %}
),

candidates as (
    select * from incoming
    {%- if is_incremental() %}
    union all
    select record_id, version_ts, is_deleted, payload, record_hash, _batch_id, _loaded_at
    from {{ this }}
    where record_id in (select record_id from incoming)
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by record_id
            order by version_ts desc, is_deleted desc, record_hash desc
        ) as version_rank
    from candidates
)

select record_id, version_ts, is_deleted, payload, record_hash, _batch_id, _loaded_at
from ranked
where version_rank = 1
{% endmacro %}
