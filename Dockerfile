# kubeagentd on Debian bookworm, built from this source tree:
#
#     docker build -t kubeagent:0.1.0 .
#
# Then see config/kubernetes/ (rbac.yaml, deployment.yml).  The image runs
# kubeagentd as user 10001 with the config in /etc/kubeagent/kubeagent.yaml.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential autoconf automake libtool pkg-config \
      libcurl4-openssl-dev libyaml-dev libcjson-dev libssl-dev libnanomsg-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN ./autogen.sh \
 && ./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var --disable-static \
 && make -j"$(nproc)" \
 && make install-strip DESTDIR=/out \
 && rm -rf /out/usr/include /out/usr/lib/pkgconfig /out/usr/lib/systemd /out/usr/lib/sysusers.d

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libyaml-0-2 libcjson1 libssl3 libnanomsg5 libmicrohttpd12 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
USER 10001:10001
ENTRYPOINT ["/usr/bin/kubeagentd"]
CMD ["--config", "/etc/kubeagent/kubeagent.yaml"]
