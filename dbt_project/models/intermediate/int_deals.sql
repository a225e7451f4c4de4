/* grain: one row per deal, with the lead it belongs to.
   Record-level increments (decision D37): deals with a new version since, or whose link changed. */
{{ config(materialized='record_table', record_keys=['deal_id'], record_lead='lead_id',
          record_upstream=['int_contact_links'], record_sources=['stg_hubspot__deals']) }}
{%- set plan = record_plan() %}
with
{%- if plan.incremental %}
scope as materialized (
    {{ record_changed_ids('stg_hubspot__deals', 'deal_id', plan) }}
    union
    select split_part(record_key, ':', 2) from ({{ record_upstream_changes('int_contact_links', plan) }}) as l
    where record_key like 'deals:%'
),

scoped as materialized (
    select record_id as deal_id from scope
),
{%- endif %}

final as (
    select
        deals.deal_id,
        links.contact_id as lead_id,
        deals.created_at,
        deals.deal_stage,
        deals.deal_stage = 'closedwon' as is_won,
        deals.deal_stage = 'closedlost' as is_lost,
        case when deals.deal_stage = 'closedwon' then coalesce(deals.close_at, deals.updated_at) end as won_at,
        deals.amount,
        deals._loaded_at
    from {{ ref('stg_hubspot__deals') }} as deals
    left join (
        select from_id, contact_id from {{ ref('int_contact_links') }}
        where from_type = 'deals' and {{ record_in_scope(['from_id'], 'scoped', ['deal_id'], plan) }}
    ) as links
        on links.from_id = deals.deal_id
    where not deals.is_deleted and {{ record_in_scope(['deals.deal_id'], 'scoped', ['deal_id'], plan) }}
)

{{ record_scope_select('final', 'scoped', ['deal_id'], plan) }}
