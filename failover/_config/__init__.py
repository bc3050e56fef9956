"""Configuration (internal): the settings' checks and conversion, and the policy file format shared
with the simulator."""
