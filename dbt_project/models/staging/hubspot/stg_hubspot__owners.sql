/* grain: one row per HubSpot owner (rep), its latest version; archived owners stay as tombstones
   (`is_deleted`: read `where not is_deleted`). A view: the raw table is small, so it is ranked in full
   whenever it is read. */
with source as (
{{ latest_versions('hubspot', 'owners') }}
),

fields as (
{{ json_fields('source', {
    'email_raw': 'email',
    'first_name_raw': 'firstName',
    'last_name_raw': 'lastName',
    'team_id': ['teams', 0, 'id'],
    'team_name': ['teams', 0, 'name'],
    'created_at_raw': 'createdAt',
}) }}
),

renamed as (
    select
        record_id as owner_id,
        {{ hash_pii('email_raw') }} as email_hash,
        trim(coalesce(first_name_raw, '') || ' ' || coalesce(last_name_raw, '')) as owner_name,
        team_id,
        team_name,
        {{ to_utc('created_at_raw') }} as created_at,
        version_at,
        _loaded_at,
        is_deleted
    from fields
)

select * from renamed
