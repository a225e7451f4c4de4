{#- The `stg_hubspot__contacts` columns `int_leads_resolved` reads, hashed; null for a tombstone.
    `int_leads_resolved` keeps it per row (`_contact_hash`) and recomputes only the contacts loaded
    since whose hash differs (decision D42). Add a column here when that model starts reading it. -#}
{% macro contact_content_hash(alias) -%}
case when not {{ alias }}.is_deleted then {{ values_hash([
    alias ~ '.created_at', alias ~ '.email_hash', alias ~ '.lead_source', alias ~ '.lead_channel',
    alias ~ '.owner_id', alias ~ '.lifecycle_stage']) }} end
{%- endmacro %}
