# Roster in a container: a static binary (no cgo; modernc.org/sqlite is pure
# Go) on an empty base image, run as a non-root user, with the database on a
# volume. Build: docker build -t roster .
# Run:   docker run -p 8080:8080 -v roster-data:/data roster
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY client/go.mod client/
RUN go mod download
COPY . .
# timetzdata embeds the IANA time zones that user timezones are checked
# against, since the runtime image has no /usr/share/zoneinfo.
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags="-s -w" -o /out/roster ./cmd/roster \
	&& mkdir -p /out/data

FROM scratch
# CA certificates: webhooks to https:// receivers, PostgreSQL over TLS.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/roster /roster
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV ROSTER_DB=/data/roster.db ROSTER_ADDR=:8080
VOLUME /data
EXPOSE 8080
# No shell or curl in the image: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/roster", "healthcheck"]
ENTRYPOINT ["/roster"]
CMD ["serve"]
