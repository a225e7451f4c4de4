/* grain: one row per HubSpot owner (rep), its latest version; archived owners stay as tombstones
   (`is_deleted`: read `where not is_deleted`). A view: the raw table is small, so it is ranked in full
   whenever it is read. */
with source as (
{{ latest_versions('hubspot', 'owners') }}
),

renamed as (
    select
        record_id as owner_id,
        {{ hash_pii("payload ->> 'email'") }} as email_hash,
        trim(coalesce(payload ->> 'firstName', '') || ' ' || coalesce(payload ->> 'lastName', '')) as owner_name,
        payload -> 'teams' -> 0 ->> 'id' as team_id,
        payload -> 'teams' -> 0 ->> 'name' as team_name,
        {{ to_utc("payload ->> 'createdAt'") }} as created_at,
        version_at,
        _loaded_at,
        is_deleted
    from source
)

select * from renamed
