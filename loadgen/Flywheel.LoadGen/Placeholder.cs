namespace Flywheel.LoadGen; internal static class Placeholder { }
