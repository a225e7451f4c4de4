/* grain: one row: the newest source version seen, the default `as_of` point of the marts */
with versions as (
    select max(version_at) as version_at from {{ ref('stg_hubspot__contacts') }}
    union all select max(version_at) from {{ ref('stg_hubspot__calls') }}
    union all select max(version_at) from {{ ref('stg_hubspot__emails') }}
    union all select max(version_at) from {{ ref('stg_hubspot__meetings') }}
    union all select max(version_at) from {{ ref('stg_hubspot__deals') }}
    union all select max(version_at) from {{ ref('stg_calendly__scheduled_events') }}
    union all select max(version_at) from {{ ref('stg_calendly__invitees') }}
)

select max(version_at) as version_at from versions
