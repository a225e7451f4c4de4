/* grain: one row per merged-away contact id, with the contact it was merged into.
   Record-level increments (decision D37): a build after a sync recomputes only the merged ids listed by
   the contacts that changed since, and those whose survivor changed. */
{{ config(materialized='record_table', record_keys=['merged_id'], record_lead='survivor_id',
          record_sources=['stg_hubspot__contacts']) }}
{%- set plan = record_plan() %}
with
{%- if plan.incremental %}
changed_contacts as materialized (
    {{ record_changed_ids('stg_hubspot__contacts', 'contact_id', plan) }}
),

scope as materialized (
    select trim(listed.merged_id) as merged_id
    from (
        select {{ split_to_rows('merged_object_ids', ';') }} as merged_id
        from {{ ref('stg_hubspot__contacts') }}
        where merged_object_ids is not null and not is_deleted and contact_id in (select record_id from changed_contacts)
    ) as listed
    union
    select merged_id from {{ this }} where survivor_id in (select record_id from changed_contacts)
),
{%- endif %}

survivors as (
    select contact_id, merged_object_ids
    from {{ ref('stg_hubspot__contacts') }}
    where merged_object_ids is not null and not is_deleted
),

merged as (
    select contact_id as survivor_id, trim({{ split_to_rows('merged_object_ids', ';') }}) as merged_id
    from survivors
),

final as (
    select merged_id, min(survivor_id) as survivor_id
    from merged
    where merged_id <> '' and {{ record_in_scope(['merged.merged_id'], 'scope', ['merged_id'], plan) }}
    group by merged_id
)

{{ record_scope_select('final', 'scope', ['merged_id'], plan) }}
