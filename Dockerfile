# syntax=docker/dockerfile:1
# Flywheel server image. Build from the repository root:
#   CPU:                  docker build -t flywheel .
#   CUDA (GPU hosts):     docker build --build-arg DEVICE=cuda -t flywheel:cuda .
#   run the test suite:   docker build --target test .
# Without arguments the container serves the small built-in demo model; mount a model folder under
# /models and name it: docker run -p 8000:8000 -v /srv/models:/models:ro flywheel \
#   serve --host 0.0.0.0 --port 8000 --model /models/bench
# See README.md, "Deploying and scaling out".

# cpu or cuda: picks the runtime stage below.
ARG DEVICE=cpu
ARG ORT_VERSION=1.30.0
# The CUDA runtime image: its CUDA major version and cuDNN must be the ones the ORT GPU package was built
# for (ORT's release notes; CUDA 12 and cuDNN 9 for the 1.2x/1.3x packages). Ubuntu 24.04 based (libicu74).
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# --- build: the SDK; fetches ONNX Runtime (CPU, npm package onnxruntime-node) as every build does ---
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG ORT_VERSION
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm unzip \
    && rm -rf /var/lib/apt/lists/*
ENV FLYWHEEL_CACHE=/cache/flywheel DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORKDIR /src
COPY . .
RUN dotnet publish src/Flywheel.Cli/Flywheel.Cli.csproj -c Release -o /app \
    && test -f /app/libonnxruntime.so.1

# --- test: the whole suite (real ONNX Runtime, Kestrel, node reference tokenizers, promtool) ---
FROM build AS test
RUN bash .ci/install-deps.sh && ./test.sh

# --- ort-cuda: ONNX Runtime's CUDA build from the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux ---
# runtimes/linux-x64/native holds libonnxruntime.so (the core, built with the CUDA provider bridge),
# libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so (CUDA 12, cuDNN 9). The three
# come from one package because the provider bridge between them is not a stable ABI; the CPU core from
# npm is replaced. ORT looks for the provider libraries in the folder of libonnxruntime.so.1, i.e. /app.
FROM build AS ort-cuda
ARG ORT_VERSION
WORKDIR /ort
RUN curl -fsSL -o ort-gpu.nupkg \
        "https://api.nuget.org/v3-flatcontainer/microsoft.ml.onnxruntime.gpu.linux/${ORT_VERSION}/microsoft.ml.onnxruntime.gpu.linux.${ORT_VERSION}.nupkg" \
    && unzip -j ort-gpu.nupkg \
        runtimes/linux-x64/native/libonnxruntime.so \
        runtimes/linux-x64/native/libonnxruntime_providers_shared.so \
        runtimes/linux-x64/native/libonnxruntime_providers_cuda.so -d lib \
    && mv lib/libonnxruntime.so lib/libonnxruntime.so.1 \
    && rm ort-gpu.nupkg

# --- runtime-cpu: ASP.NET Core runtime, the app and libonnxruntime.so.1 (CPU) ---
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime-cpu
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 flywheel && useradd --create-home --uid 10001 --gid 10001 flywheel
COPY --from=build /app /app
ENTRYPOINT ["dotnet", "/app/flywheel.dll"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

# --- runtime-cuda: CUDA + cuDNN runtime, the .NET runtime copied from the ASP.NET image ---
FROM ${CUDA_IMAGE} AS runtime-cuda
COPY --from=mcr.microsoft.com/dotnet/aspnet:10.0 /usr/share/dotnet /usr/share/dotnet
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl ca-certificates libicu74 \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
    && groupadd --gid 10001 flywheel && useradd --create-home --uid 10001 --gid 10001 flywheel
ENV DOTNET_ROOT=/usr/share/dotnet
COPY --from=build /app /app
COPY --from=ort-cuda /ort/lib/ /app/
ENTRYPOINT ["dotnet", "/app/flywheel.dll"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--device", "cuda"]

# --- the image: whichever runtime DEVICE names, run as a non-root user ---
# (ENTRYPOINT and CMD come from that stage; setting ENTRYPOINT here would reset CMD.)
# hadolint ignore=DL3006
FROM runtime-${DEVICE}
WORKDIR /app
ENV FLYWHEEL_CACHE=/home/flywheel/.cache/flywheel
USER 10001:10001
VOLUME ["/models"]
EXPOSE 8000
# SIGTERM starts the drain: readiness turns 503, in-flight requests get --drain-timeout (30 s) to finish.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/health/ready || exit 1
