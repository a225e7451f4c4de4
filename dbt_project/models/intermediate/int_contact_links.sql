/* grain: one row per (object type, object id): the contact an engagement, meeting or deal belongs to.
   Record-level increments (decision D37): a build after a sync recomputes the objects with a new
   version or association read since, and the links to a contact whose merge changed. */
{{ config(materialized='record_table', record_keys=['from_type', 'from_id'],
          record_log_key="from_type || ':' || from_id", record_lead='contact_id',
          record_upstream=['int_contact_merges'],
          record_sources=['stg_hubspot__associations', 'stg_hubspot__calls', 'stg_hubspot__emails',
                          'stg_hubspot__meetings', 'stg_hubspot__deals']) }}
{%- set plan = record_plan() %}
{%- set keys = ['from_type', 'from_id'] %}
with
{%- if plan.incremental %}
merge_changes as materialized (
    {{ record_upstream_changes('int_contact_merges', plan) }}
),

scope as materialized (
    -- an association record's key is `<from_type>:<from_id>:<to_type>`; its marker row carries it once
    select split_part(association_record_id, ':', 1) as from_type, split_part(association_record_id, ':', 2) as from_id
    from {{ ref('stg_hubspot__associations') }}
    where _loaded_at > {{ record_since(plan.last) }} and is_marker
        and split_part(association_record_id, ':', 3) = 'contacts'
    {%- for kind, key in [('calls', 'engagement_id'), ('emails', 'engagement_id'), ('meetings', 'meeting_id'), ('deals', 'deal_id')] %}
    union
    select '{{ kind }}', record_id from ({{ record_changed_ids('stg_hubspot__' ~ kind, key, plan) }}) as c
    {%- endfor %}
    union
    -- links to a contact merged or unmerged since: the merged id itself or its previous survivor
    select from_type, from_id from {{ this }}
    where contact_id in (select record_key from merge_changes union select lead_id from merge_changes)
),
{%- endif %}

associations as (
    select from_type, from_id, to_id as contact_id
    from {{ ref('stg_hubspot__associations') }} as a
    -- markers (`is_marker`) have no `to_type`, tombstones are markers only; the columns are qualified:
    -- unqualified, they would bind to the scope's own columns and read every association
    where to_type = 'contacts' and {{ record_in_scope(['a.from_type', 'a.from_id'], 'scope', keys, plan) }}
),

inline as (
    select 'calls' as from_type, engagement_id as from_id, inline_contact_id as contact_id
    from {{ ref('stg_hubspot__calls') }}
    where inline_contact_id is not null and not is_deleted and {{ record_in_scope(["'calls'", 'engagement_id'], 'scope', keys, plan) }}
    union all
    select 'emails', engagement_id, inline_contact_id
    from {{ ref('stg_hubspot__emails') }}
    where inline_contact_id is not null and not is_deleted and {{ record_in_scope(["'emails'", 'engagement_id'], 'scope', keys, plan) }}
    union all
    select 'meetings', meeting_id, inline_contact_id
    from {{ ref('stg_hubspot__meetings') }}
    where inline_contact_id is not null and not is_deleted and {{ record_in_scope(["'meetings'", 'meeting_id'], 'scope', keys, plan) }}
    union all
    select 'deals', deal_id, inline_contact_id
    from {{ ref('stg_hubspot__deals') }}
    where inline_contact_id is not null and not is_deleted and {{ record_in_scope(["'deals'", 'deal_id'], 'scope', keys, plan) }}
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
),

final as (
    select from_type, from_id, contact_id
    from ranked
    where link_rank = 1
)

{{ record_scope_select('final', 'scope', keys, plan) }}
