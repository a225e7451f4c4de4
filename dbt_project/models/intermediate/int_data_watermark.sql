/* grain: one row: the newest source version seen, the default `as_of` point of the marts */
with versions as (
    select max(version_at) as version_at from {{ ref('stg_hubspot__contacts') }} where not is_deleted
    union all select max(version_at) from {{ ref('stg_hubspot__calls') }} where not is_deleted
    union all select max(version_at) from {{ ref('stg_hubspot__emails') }} where not is_deleted
    union all select max(version_at) from {{ ref('stg_hubspot__meetings') }} where not is_deleted
    union all select max(version_at) from {{ ref('stg_hubspot__deals') }} where not is_deleted
    union all select max(version_at) from {{ ref('stg_calendly__scheduled_events') }} where not is_deleted
    union all select max(version_at) from {{ ref('stg_calendly__invitees') }} where not is_deleted
)

select max(version_at) as version_at from versions
