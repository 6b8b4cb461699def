namespace Flywheel.Server; internal static class Placeholder { }
