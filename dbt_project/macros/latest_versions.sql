{#- Body of a staging model: the latest version of every record of a raw table (data-contract.md
    section 3), for the model to parse. Ranking: newest `version_ts`; on a tie a tombstone wins, then the
    larger `record_hash`, so the result is the same whether the history arrives in one batch or in many.
    Emits `record_key` (`key_sql`, default the raw `record_id`), `record_id`, `version_at` (the version as
    naive UTC), `is_deleted`, `payload`, `record_hash`, `_loaded_at`.

    A staging table keeps one row per record, tombstones included (`is_deleted`, read `where not
    is_deleted`): its own `version_at`, `is_deleted` and `record_hash` are the ranking keys an older
    version arriving later must lose against (decision D41). Incremental: only raw rows loaded after the
    newest `_loaded_at` the table holds are read (a literal watermark, so the scan skips old row
    groups), ranked together with the ranking keys of the table's row for the same records (`key`, the
    table's column holding `key_sql`; `current_where` picks the row that carries them when a record has
    several), and only records whose winner is an incoming row are emitted, to be replaced on `key`
    (delete+insert); a record whose stored row still wins is left as it is, and only the winners'
    payloads are parsed. `(record_id, record_hash)` is unique in raw, so an incoming row never ties a
    stored row on all ranking keys; `is_incoming` only makes the order total. A view (the small
    dimensions) ranks every raw row each time it is read. -#}
{% macro latest_versions(source_name, table_name, key='record_id', key_sql='record_id', current_where=none) %}
with incoming as (
    select
        {{ key_sql }} as record_key,
        record_id,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        is_deleted,
        payload,
        record_hash,
        _loaded_at
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
        -- the ranking keys only (typed by the first branch): no payload is read here
        {{ key }}, null, version_at, is_deleted, null, record_hash, null, false
    from {{ this }}
    where {{ key }} in (select record_key from incoming)
        {%- if current_where %} and {{ current_where }}{% endif %}
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by record_key
            order by version_at desc, is_deleted desc, record_hash desc, is_incoming
        ) as version_rank
    from candidates
)

select record_key, record_id, version_at, is_deleted, payload, record_hash, _loaded_at
from ranked
where version_rank = 1 and is_incoming
{% endmacro %}
