# Flywheel server image. Build from the repository root: docker build -t flywheel .
# The build stage fetches ONNX Runtime (npm package onnxruntime-node) as the normal build does.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN dotnet publish src/Flywheel.Cli/Flywheel.Cli.csproj -c Release -o /app \
    && cp "$HOME/.cache/flywheel/onnxruntime-1.30.0/libonnxruntime.so.1" /app/

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 flywheel
WORKDIR /app
COPY --from=build /app .
USER flywheel
ENV FLYWHEEL_CACHE=/home/flywheel/.cache/flywheel
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD curl -fsS http://127.0.0.1:8000/health/ready || exit 1
ENTRYPOINT ["dotnet", "/app/flywheel.dll"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
