/* grain: one row per ask (an outbound call or e-mail engagement carrying an `ask_type`).
   Record-level increments (decision D37): engagements with a new version since, engagements whose
   link to a contact changed, and `pending` asks whose response window has passed at `as_of`. */
{{ config(materialized='record_table', record_keys=['ask_id'], record_lead='lead_id', record_as_of=true,
          record_upstream=['int_contact_links'], record_sources=['stg_hubspot__calls', 'stg_hubspot__emails']) }}
{%- set plan = record_plan() %}
with
{%- if plan.incremental %}
scope as materialized (
    {%- for kind in ['calls', 'emails'] %}
    select '{{ kind }}:' || record_id as ask_id from ({{ record_changed_ids('stg_hubspot__' ~ kind, 'engagement_id', plan) }}) as c
    union
    {%- endfor %}
    select record_key from ({{ record_upstream_changes('int_contact_links', plan) }}) as l
    where record_key like 'calls:%' or record_key like 'emails:%'
    union
    -- pending asks whose response window has passed at `as_of` (it only moves on: moving back rebuilds)
    select ask_id from {{ this }}
    where response = 'pending'
        and {{ seconds_between('asked_at', as_of_sql()) }} >= {{ var('response_window_days') }} * 86400.0
),

scope_ids as materialized (
    select split_part(ask_id, ':', 1) as engagement_type, split_part(ask_id, ':', 2) as engagement_id from scope
),
{%- endif %}

engagements as (
    {%- for kind in ['calls', 'emails'] %}
    select * from {{ ref('stg_hubspot__' ~ kind) }} as e
    where not e.is_deleted and {{ record_in_scope(["'" ~ kind ~ "'", 'e.engagement_id'], 'scope_ids', ['engagement_type', 'engagement_id'], plan) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

links as (
    select from_type, from_id, contact_id from {{ ref('int_contact_links') }} as l
    where from_type in ('calls', 'emails')
        and {{ record_in_scope(['l.from_type', 'l.from_id'], 'scope_ids', ['engagement_type', 'engagement_id'], plan) }}
),

ladder as (
    select aliases.source_value, ladder.ask_key, ladder.ask_level
    from {{ ref('ask_ladder_aliases') }} as aliases
    inner join {{ ref('ask_ladder') }} as ladder on aliases.ask_key = ladder.ask_key
    where aliases.source_system = 'hubspot_engagement'
),

channels as (
    select source_value, channel, medium
    from {{ ref('channel_mapping') }}
    where source_system = 'hubspot_engagement'
),

as_of as (
    select {{ as_of_sql() }} as as_of_at
),

joined as (
    select
        engagements.engagement_type || ':' || engagements.engagement_id as ask_id,
        engagements.engagement_type,
        engagements.engagement_id,
        links.contact_id as lead_id,
        engagements.owner_id as requester_id,
        engagements.sent_at as asked_at,
        asked.ask_key,
        asked.ask_level,
        alternative.ask_key as alternative_ask_key,
        alternative.ask_level as alternative_ask_level,
        channels.channel,
        channels.medium,
        engagements.ask_outcome,
        engagements.ask_outcome_at,
        engagements._loaded_at
    from engagements
    inner join ladder as asked on engagements.ask_type = asked.source_value
    left join ladder as alternative on engagements.ask_alternative = alternative.source_value
    left join links
        on links.from_type = engagements.engagement_type and links.from_id = engagements.engagement_id
    left join channels on engagements.engagement_type = channels.source_value
),

final as (
    select
        joined.ask_id,
        joined.engagement_type,
        joined.engagement_id,
        joined.lead_id,
        joined.requester_id,
        joined.asked_at,
        joined.ask_key,
        joined.ask_level,
        joined.alternative_ask_key,
        joined.alternative_ask_level,
        joined.channel,
        joined.medium,
        case
            when joined.ask_outcome in ('accepted', 'declined') then joined.ask_outcome
            when {{ seconds_between('joined.asked_at', 'as_of.as_of_at') }}
                >= {{ var('response_window_days') }} * 86400.0 then 'no_response'
            else 'pending'
        end as response,
        case when joined.ask_outcome in ('accepted', 'declined') then joined.ask_outcome_at end as responded_at,
        joined._loaded_at
    from joined
    cross join as_of
)

{{ record_scope_select('final', 'scope', ['ask_id'], plan) }}
