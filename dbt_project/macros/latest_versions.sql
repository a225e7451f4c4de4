{#- Body of a `base_<source>__<entity>` model: the latest version of every record in a raw table
    (data-contract.md section 3), tombstones kept as rows with `is_deleted = true` so that later layers
    can drop them. Ranking: newest `version_ts`; on a tie a tombstone wins, then the larger
    `record_hash`, so the result is the same whether the history arrives in one batch or in many.

    Incremental: only raw rows loaded after the newest `_loaded_at` already processed are read (a
    literal watermark, so the scan skips old row groups), ranked together with the ranking keys of the
    current row of the same records (no payload is read from the table), and only records whose
    winner is an incoming row are emitted and replaced on `record_id` (delete+insert: deletes and
    appends, no in-place update, see docs/analyst-guide.md); a record whose current row still
    wins is left as it is (rewriting it would write the same row). `(record_id, record_hash)` is
    unique in raw, so an incoming row never ties a current row on all ranking keys; `is_incoming`
    only makes the order total. -#}
{% macro latest_versions(source_name, table_name) %}
with incoming as (
    select record_id, version_ts, is_deleted, payload, record_hash, _batch_id, _loaded_at
    from {{ source(source_name, table_name) }}
    {%- if is_incremental() %}
    where _loaded_at > {{ loaded_at_watermark() }}
    {%- endif %}
),

candidates as (
    select *, true as is_incoming from incoming
    {%- if is_incremental() %}
    union all
    select
        -- the ranking keys only (typed by the first branch): the payload is never read here
        record_id, version_ts, is_deleted, null as payload, record_hash, null as _batch_id, null as _loaded_at,
        false as is_incoming
    from {{ this }}
    where record_id in (select record_id from incoming)
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by record_id
            order by version_ts desc, is_deleted desc, record_hash desc, is_incoming
        ) as version_rank
    from candidates
)

select record_id, version_ts, is_deleted, payload, record_hash, _batch_id, _loaded_at
from ranked
where version_rank = 1 and is_incoming
{% endmacro %}
