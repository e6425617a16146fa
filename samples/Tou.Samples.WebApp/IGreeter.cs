namespace Tou.Samples.WebApp;

/// <summary>A service the app's endpoints use; tests replace it with <c>ConfigureTestServices</c>.</summary>
public interface IGreeter
{
    /// <summary>A greeting for <paramref name="name"/>.</summary>
    string Greet(string name);
}
