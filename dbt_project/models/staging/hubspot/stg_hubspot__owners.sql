/* grain: one row per live HubSpot owner (rep) */
with source as (
    select * from {{ ref('base_hubspot__owners') }}
    where not is_deleted
),

renamed as (
    select
        record_id as owner_id,
        {{ hash_pii("payload ->> 'email'") }} as email_hash,
        trim(coalesce(payload ->> 'firstName', '') || ' ' || coalesce(payload ->> 'lastName', '')) as owner_name,
        payload -> 'teams' -> 0 ->> 'id' as team_id,
        payload -> 'teams' -> 0 ->> 'name' as team_name,
        {{ to_utc("payload ->> 'createdAt'") }} as created_at,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at
    from source
)

select * from renamed
