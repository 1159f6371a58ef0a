# syntax=docker/dockerfile:1
# previewd and Terraform (1.5.7 unless --build-arg TERRAFORM_VERSION=vX.Y.Z),
# both built from source, in a slim image that runs as an unprivileged user.

FROM golang:1.26-bookworm AS previewd
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/previewd ./cmd/previewd \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/preview-web ./cmd/preview-web

# Terraform comes from the Go module proxy, like everywhere else in previewd.
FROM golang:1.26-bookworm AS terraform
ARG TERRAFORM_VERSION=v1.5.7
RUN CGO_ENABLED=0 GOBIN=/out go install -trimpath -ldflags "-s -w" github.com/hashicorp/terraform@${TERRAFORM_VERSION}

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/previewd --create-home previewd
COPY --from=previewd /out/previewd /out/preview-web /usr/local/bin/
COPY --from=terraform /out/terraform /usr/local/bin/terraform
COPY examples /opt/previewd/examples
ENV PREVIEWD_LISTEN_ADDR=0.0.0.0:8080 \
    PREVIEWD_DATA_DIR=/var/lib/previewd \
    PREVIEWD_TERRAFORM_BIN=/usr/local/bin/terraform
USER 10001:10001
WORKDIR /var/lib/previewd
VOLUME /var/lib/previewd
EXPOSE 8080
# SIGTERM: previewd stops taking work, interrupts Terraform and waits up to
# shutdown_timeout (90s by default) for it; give `docker stop -t 120`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/previewd"]
CMD ["serve"]
