# rulegate gateway image: build stage, then a minimal non-root runtime.
#
#   docker build -t rulegate .
#   docker run -p 8080:8080 rulegate                      # the shipped packs, baked in
#   docker run -p 8080:8080 -v $PWD/team:/etc/rulegate/team:ro \
#     -e RULEGATE_RULES=/etc/rulegate/rules,/etc/rulegate/team rulegate
#                                                          # + your own rules, reloaded on change
#
# The image holds the `proxy` binary, the shipped packs in
# /etc/rulegate/rules and deploy/k8s/rulegate.toml as /etc/rulegate/rulegate.toml
# (listen on 0.0.0.0:8080, JSON logs). Every setting can be overridden with
# a flag or a RULEGATE_* environment variable.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p rulegate-proxy --bin proxy \
 && mkdir -p /out && cp target/release/proxy /out/proxy

# distroless: no shell, no package manager; glibc and CA certificates only.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/proxy /usr/local/bin/proxy
COPY rules/*.rules /etc/rulegate/rules/
COPY deploy/k8s/rulegate.toml /etc/rulegate/rulegate.toml
USER 65532:65532
EXPOSE 8080
ENV RULEGATE_CONFIG=/etc/rulegate/rulegate.toml
ENTRYPOINT ["/usr/local/bin/proxy"]
