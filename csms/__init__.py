"""The OCPP central system node: chargers connect here over WebSocket."""
