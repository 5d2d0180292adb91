# syntax=docker/dockerfile:1
# Build stage: cgo is needed for SQLite (mattn/go-sqlite3).
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/sshchat .

# Runtime stage: a slim glibc image (the binary links libc dynamically).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sshchat \
    && useradd --system --uid 10001 --gid sshchat --home-dir /data --shell /usr/sbin/nologin sshchat \
    && mkdir -p /data && chown sshchat:sshchat /data && chmod 0700 /data
COPY --from=build /out/sshchat /usr/local/bin/sshchat

# Configuration is by environment; every flag has a SSHCHAT_* variable.
# The host key is generated on first start into the volume, never baked in.
ENV SSHCHAT_ADDR=:2222 \
    SSHCHAT_DATA_DIR=/data \
    SSHCHAT_HOST_KEY=/data/.ssh/id_ed25519
# New goroutines start with the smallest stack instead of the average the
# runtime last saw (inflated by handshakes and rendering), which every
# session's goroutines would otherwise keep: less memory per session
# (docs/performance.md, "Issue 8"). A runtime setting read only at start.
ENV GODEBUG=adaptivestackstart=0
VOLUME ["/data"]
EXPOSE 2222
USER sshchat:sshchat
WORKDIR /data
STOPSIGNAL SIGTERM
# Healthy once the server completes an SSH handshake on SSHCHAT_ADDR
# (sshchat healthcheck: any host key, no login needed).
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/sshchat", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/sshchat"]
