/* grain: one row per lead (and `__config__`): the input fingerprint the lead-grain models were last
   built from. Written last, after the lead-grain marts and their tests passed, so that a failed build
   leaves the previous state and the next build recomputes more, never less. Incremental: only the
   affected leads' rows (and `__config__`) are replaced. */
-- depends_on: {{ ref('leads') }}
-- depends_on: {{ ref('asks') }}
-- depends_on: {{ ref('appointments') }}
-- depends_on: {{ ref('concession_sequences') }}
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads(with_config_row=true) }}") }}
select lead_id, fingerprint, n_rows, invocation_id
from {{ ref('int_affected_leads') }}
where fingerprint is not null
{%- if is_incremental() %}
    -- a lead that is not affected has the stored fingerprint already; the `__config__` row always
    -- carries the invocation id of the last complete build
    and (is_affected or lead_id = '__config__')
{%- endif %}
