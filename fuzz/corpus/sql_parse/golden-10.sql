FOREACH
    payload.sensors
FROM "t/#"