FOREACH
    payload.sensors as e
DO
    clientid,
    e.name as name,
    e.idx as idx
INCASE
    e.idx >= 1
FROM "t/#"