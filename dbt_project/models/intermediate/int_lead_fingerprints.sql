/* grain: one row per lead (and `__config__`): the input fingerprint the lead-grain models were last
   built from. Written last, after the lead-grain marts and their tests passed, so that a failed build
   leaves the previous state and the next build recomputes more, never less. */
-- depends_on: {{ ref('leads') }}
-- depends_on: {{ ref('asks') }}
-- depends_on: {{ ref('appointments') }}
-- depends_on: {{ ref('concession_sequences') }}
{{ config(materialized='table') }}
select lead_id, fingerprint, n_rows, invocation_id
from {{ ref('int_affected_leads') }}
where fingerprint is not null
