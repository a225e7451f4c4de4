/* grain: one row per (object type, object id): the contact an engagement, meeting or deal belongs to */
with associations as (
    select from_type, from_id, to_id as contact_id
    from {{ ref('stg_hubspot__associations') }}
    where to_type = 'contacts'
),

inline as (
    select 'calls' as from_type, engagement_id as from_id, inline_contact_id as contact_id
    from {{ ref('stg_hubspot__calls') }} where inline_contact_id is not null
    union all
    select 'emails', engagement_id, inline_contact_id
    from {{ ref('stg_hubspot__emails') }} where inline_contact_id is not null
    union all
    select 'meetings', meeting_id, inline_contact_id
    from {{ ref('stg_hubspot__meetings') }} where inline_contact_id is not null
    union all
    select 'deals', deal_id, inline_contact_id
    from {{ ref('stg_hubspot__deals') }} where inline_contact_id is not null
),

-- the v4 association read wins over the inline v3 block; merged-away ids resolve to the survivor
combined as (
    select from_type, from_id, contact_id, 1 as preference from associations
    union all
    select from_type, from_id, contact_id, 2 as preference from inline
),

ranked as (
    select
        combined.from_type,
        combined.from_id,
        coalesce(merges.survivor_id, combined.contact_id) as contact_id,
        row_number() over (
            partition by combined.from_type, combined.from_id
            order by combined.preference, combined.contact_id
        ) as link_rank
    from combined
    left join {{ ref('int_contact_merges') }} as merges
        on combined.contact_id = merges.merged_id
)

select from_type, from_id, contact_id
from ranked
where link_rank = 1
