{#- An outbound ask engagement (HubSpot calls and emails share it: data-contract.md §1): the payload fields
    to extract (`json_fields`, decision D46) and the model's columns over them. -#}
{% macro ask_engagement_fields() %}
{{ return({
    'created_at_raw': 'createdAt',
    'updated_at_raw': 'updatedAt',
    'sent_at_raw': ['properties', 'hs_timestamp'],
    'owner_id_raw': ['properties', 'hubspot_owner_id'],
    'ask_type_raw': ['properties', 'ask_type'],
    'ask_alternative_raw': ['properties', 'ask_alternative'],
    'ask_outcome_raw': ['properties', 'ask_outcome'],
    'ask_outcome_at_raw': ['properties', 'ask_outcome_at'],
    'inline_contact_id': ['associations', 'contacts', 'results', 0, 'id'],
}) }}
{% endmacro %}

{% macro ask_engagement_columns(engagement_type) %}
        record_id as engagement_id,
        '{{ engagement_type }}' as engagement_type,
        {{ to_utc('created_at_raw') }} as created_at,
        {{ to_utc('updated_at_raw') }} as updated_at,
        coalesce({{ to_utc('sent_at_raw') }}, {{ to_utc('created_at_raw') }}) as sent_at,
        nullif(owner_id_raw, '') as owner_id,
        nullif(lower(ask_type_raw), '') as ask_type,
        nullif(lower(ask_alternative_raw), '') as ask_alternative,
        nullif(lower(ask_outcome_raw), '') as ask_outcome,
        {{ to_utc('ask_outcome_at_raw') }} as ask_outcome_at,
        inline_contact_id,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
{% endmacro %}

{#- The channel an ask went through in the marts: its own (a meeting's or booking's), else its lead's
    (`ask`, `lead`: table aliases). `asks` and `concession_sequences` both show it. -#}
{% macro ask_channel(ask, lead) -%}
coalesce({{ ask }}.channel, {{ lead }}.channel)
{%- endmacro %}
