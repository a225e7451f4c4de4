-- Every raw version has its record id and version time (data-contract.md section 3), in every raw
-- table the models read: one test node for all of them (the landing DDL also declares both NOT NULL).
-- Returns one row per table with versions missing either.
{%- set raw_tables = [
    ('hubspot', 'contacts'), ('hubspot', 'deals'), ('hubspot', 'meetings'), ('hubspot', 'calls'),
    ('hubspot', 'emails'), ('hubspot', 'owners'), ('hubspot', 'pipelines'), ('hubspot', 'associations'),
    ('calendly', 'users'), ('calendly', 'event_types'), ('calendly', 'scheduled_events'),
    ('calendly', 'invitees'), ('sheet', 'leads'),
] %}
{% for source_name, table_name in raw_tables %}
select '{{ source_name }}.{{ table_name }}' as raw_table, count(*) as versions_without_keys
from {{ source(source_name, table_name) }}
where record_id is null or version_ts is null
having count(*) > 0
{% if not loop.last %}union all{% endif %}
{%- endfor %}
