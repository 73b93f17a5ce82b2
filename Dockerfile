# keyward in a container: a static binary on distroless, running as nonroot.
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t keyward .
#   docker run -p 8080:8080 -v keyward-data:/data keyward
#
# With no DATABASE_URL it keeps its SQLite database and session secret in the
# /data volume; set DATABASE_URL (and KEYWARD_SESSION_SECRET) for PostgreSQL.

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0
# Dependencies first, so that a source change reuses this layer.
COPY go.mod go.sum ./
RUN go mod download
# The templ output (*_templ.go) is committed, so there is no generate step.
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/keyward ./cmd/keyward \
 && mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyward /keyward
# A new named volume takes the ownership of the image's /data, so nonroot
# (uid 65532) can write to it.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
ENV KEYWARD_DATA_DIR=/data KEYWARD_ADDR=:8080
VOLUME /data
EXPOSE 8080
# No HEALTHCHECK: distroless has no shell or curl to run one. Point the
# orchestrator's probes at GET /healthz (liveness) and GET /readyz (readiness).
ENTRYPOINT ["/keyward"]
CMD ["serve"]
