"""Source connectors: HubSpot, Calendly and a published lead sheet, pulled with `requests`."""
