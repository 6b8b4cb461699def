# syntax=docker/dockerfile:1
# Flywheel server image. Build from the repository root:
#   CPU:                  docker build -t flywheel .
#   CUDA (GPU hosts):     docker build --build-arg DEVICE=cuda -t flywheel:cuda .
#   run the test suite:   docker build --target test .
# Without arguments the container serves the small built-in demo model; mount a model folder under
# /models and name it: docker run -p 8000:8000 -v /srv/models:/models:ro flywheel \
#   serve --host 0.0.0.0 --port 8000 --model /models/bench
# See README.md, "Deploying and scaling out".

# cpu or cuda: picks ONNX Runtime's package at build time (-p:FlywheelDevice) and the runtime stage below.
ARG DEVICE=cpu
# The CUDA runtime image: its CUDA major version and cuDNN must be the ones ONNX Runtime's GPU package
# (Microsoft.ML.OnnxRuntime.Gpu.Linux 1.32.0) was built for: CUDA 13 and cuDNN 9. Ubuntu 24.04 based (libicu74).
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04

# --- build: the SDK; ONNX Runtime comes from NuGet with the rest of the packages ---
# DEVICE=cuda builds with Microsoft.ML.OnnxRuntime.Gpu.Linux (libonnxruntime.so with the CUDA provider
# libraries, ~290 MB); the CPU build never downloads it.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG DEVICE
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORKDIR /src
COPY . .
RUN dotnet publish src/Flywheel.Cli/Flywheel.Cli.csproj -c Release -p:FlywheelDevice=${DEVICE} -o /app \
    && test -f /app/libonnxruntime.so \
    && { [ "${DEVICE}" != cuda ] || test -f /app/libonnxruntime_providers_cuda.so; }

# --- test: the whole suite (real ONNX Runtime, Kestrel, node reference tokenizers, promtool) ---
FROM build AS test
RUN bash .ci/install-deps.sh && ./test.sh

# --- runtime-cpu: ASP.NET Core runtime, the app and libonnxruntime.so (CPU) ---
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
# ONNX Runtime loads its CUDA provider libraries from the folder of libonnxruntime.so, i.e. /app.
COPY --from=build /app /app
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
