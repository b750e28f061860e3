"""Home Assistant's MQTT discovery rules, rebuilt from home-assistant/core's
source (homeassistant/components/mqtt: schemas.py, config.py, sensor.py,
binary_sensor.py, switch.py, button.py, number.py), for the releases the
simulator supports: check(component, config, release) lists what that
release would reject or ignore. Unknown keys of an entity are dropped by
Home Assistant (vol.REMOVE_EXTRA) rather than refused: they are listed
too, since a key that is ignored is a mistake on our side. The device
block is strict (an unknown key rejects the whole config)."""

import re

OLDEST = (2024, 2)      # device.serial_number
REACTIVE = (2025, 6)    # the reactive_energy device class

# MQTT_AVAILABILITY_SCHEMA + MQTT_ENTITY_COMMON_SCHEMA + MQTT_BASE_SCHEMA
COMMON = {"availability", "availability_topic", "availability_mode",
          "availability_template", "payload_available",
          "payload_not_available", "device", "origin", "enabled_by_default",
          "entity_category", "icon", "json_attributes_topic",
          "json_attributes_template", "object_id", "unique_id", "qos",
          "encoding", "name"}
RO = {"state_topic", "value_template"}                  # MQTT_RO_SCHEMA
RW = {"command_topic", "state_topic", "retain"}         # MQTT_RW_SCHEMA

KEYS = {
    "sensor": COMMON | RO | {"device_class", "expire_after", "force_update",
                             "last_reset_value_template", "options",
                             "suggested_display_precision", "state_class",
                             "unit_of_measurement"},
    "binary_sensor": COMMON | RO | {"device_class", "expire_after",
                                    "force_update", "off_delay",
                                    "payload_off", "payload_on"},
    "switch": COMMON | RW | {"device_class", "optimistic", "payload_on",
                             "payload_off", "state_on", "state_off",
                             "value_template", "command_template"},
    "button": COMMON | {"command_template", "command_topic", "device_class",
                        "payload_press", "retain"},
    "number": COMMON | RW | {"command_template", "device_class", "max",
                             "min", "mode", "optimistic", "payload_reset",
                             "step", "unit_of_measurement",
                             "value_template"},
}
REQUIRED = {"sensor": {"state_topic"}, "binary_sensor": {"state_topic"},
            "switch": {"command_topic"}, "button": {"command_topic"},
            "number": {"command_topic"}}

# MQTT_ENTITY_DEVICE_INFO_SCHEMA (strict)
DEVICE = {"identifiers", "connections", "manufacturer", "model", "name",
          "hw_version", "sw_version", "via_device", "suggested_area",
          "configuration_url"}
ORIGIN = {"name", "sw_version", "support_url"}

# the device classes and units of the sensors a meter has
SENSOR_UNITS = {
    "voltage": {"V", "mV"}, "current": {"A", "mA"},
    "power": {"W", "kW"}, "apparent_power": {"VA"},
    "reactive_power": {"var"}, "power_factor": {None, "%"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "energy": {"Wh", "kWh", "MWh", "MJ", "GJ"},
    "enum": {None}, "reactive_energy": {"varh", "kvarh"},
}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
BINARY_CLASSES = {"battery", "battery_charging", "carbon_monoxide", "cold",
                  "connectivity", "door", "garage_door", "gas", "heat",
                  "light", "lock", "moisture", "motion", "moving",
                  "occupancy", "opening", "plug", "power", "presence",
                  "problem", "running", "safety", "smoke", "sound",
                  "tamper", "update", "vibration", "window"}
SWITCH_CLASSES = {"outlet", "switch"}
BUTTON_CLASSES = {"identify", "restart", "update"}
NUMBER_MODES = {"auto", "box", "slider"}


def _device(d, release):
    errs = []
    allowed = set(DEVICE)
    if release >= OLDEST:
        allowed.add("serial_number")
    for k in d:
        if k not in allowed:
            errs.append("device: extra keys not allowed @ %s" % k)
        elif k not in ("identifiers", "connections") and \
                not isinstance(d[k], str):
            errs.append("device.%s: not a string" % k)
    if not d.get("identifiers") and not d.get("connections"):
        errs.append("device: no identifiers or connections")
    return errs


def check(component, c, release):
    """What release (a (year, month) tuple) says about config c."""
    errs = []
    if component not in KEYS:
        return ["no such platform %s" % component]
    for k in c:
        if k not in KEYS[component]:
            errs.append("%s: unknown key %s (ignored)" % (component, k))
    for k in REQUIRED[component]:
        if not isinstance(c.get(k), str) or not c[k] or \
                (k == "command_topic" and re.search(r"[+#]", c[k])):
            errs.append("%s: %s required, a topic" % (component, k))
    if c.get("qos", 0) not in (0, 1, 2):
        errs.append("qos must be 0, 1 or 2")
    if "device" in c:
        errs += _device(c["device"], release)
    if "origin" in c:
        o = c["origin"]
        if "name" not in o or set(o) - ORIGIN:
            errs.append("origin: needs name, knows %s" % sorted(ORIGIN))
    for k in ("expire_after", "off_delay"):
        if k in c and (not isinstance(c[k], int) or c[k] < 0):
            errs.append("%s must be a positive integer" % k)
    dc = c.get("device_class")
    if component == "sensor":
        unit = c.get("unit_of_measurement")
        if dc is not None:
            known = set(SENSOR_UNITS)
            if release < REACTIVE:
                known.discard("reactive_energy")
            if dc not in known:
                errs.append("sensor: unknown device_class %s" % dc)
            elif unit not in SENSOR_UNITS[dc]:
                errs.append("sensor: unit %s is not one of %s's" % (unit, dc))
        if c.get("state_class") not in STATE_CLASSES | {None}:
            errs.append("sensor: state_class %s" % c.get("state_class"))
        if "options" in c:
            if not c["options"] or dc != "enum" or "state_class" in c or \
                    unit is not None:
                errs.append("sensor: options need device_class enum and "
                            "no state_class or unit")
    elif component == "binary_sensor":
        if dc is not None and dc not in BINARY_CLASSES:
            errs.append("binary_sensor: unknown device_class %s" % dc)
    elif component == "switch":
        if dc is not None and dc not in SWITCH_CLASSES:
            errs.append("switch: unknown device_class %s" % dc)
    elif component == "button":
        if dc is not None and dc not in BUTTON_CLASSES:
            errs.append("button: unknown device_class %s" % dc)
    elif component == "number":
        lo, hi = c.get("min", 1.0), c.get("max", 100.0)
        if lo >= hi:
            errs.append("number: 'max' must be > 'min'")
        if c.get("step", 1.0) < 1e-3:
            errs.append("number: step below 0.001")
        if c.get("mode", "auto") not in NUMBER_MODES:
            errs.append("number: mode %s" % c.get("mode"))
    return errs


def render(template, value):
    """The value templates the simulator sends, evaluated on a telemetry
    message: {{ value_json.A.B }} and {{ 'ON' if value_json.A else 'OFF' }}
    (Home Assistant's Jinja would give the same)."""
    def path(p):
        v = value
        for part in p.split("."):
            v = v[part]
        return v
    m = re.fullmatch(r"\{\{ value_json\.([\w.]+) \}\}", template)
    if m:
        return path(m.group(1))
    m = re.fullmatch(r"\{\{ '(\w+)' if value_json\.([\w.]+) else '(\w+)' "
                     r"\}\}", template)
    if m:
        return m.group(1) if path(m.group(2)) else m.group(3)
    raise AssertionError("a template the test cannot read: %s" % template)
