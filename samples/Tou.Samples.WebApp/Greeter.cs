namespace Tou.Samples.WebApp;

/// <summary>The app's own greeter.</summary>
public sealed class Greeter : IGreeter
{
    /// <inheritdoc/>
    public string Greet(string name) => $"Hello, {name}, over TOU";
}
