# The roost image: one static binary, nothing else. Build it with
# scripts/build-image.sh (it compiles the binary, then runs docker build).
FROM scratch
ARG BIN=target/x86_64-unknown-linux-gnu/release/roost
COPY ${BIN} /roost
# MQTT, cluster, HTTP API.
EXPOSE 1883 4370 18083
ENTRYPOINT ["/roost", "start"]
