package testsuiteapp;

/**
 * What {@code GET /greetings/{name}} answers.
 *
 * @param message the greeting
 * @param number how many greetings this instance has given, this one included
 */
public record Greeting(String message, long number) {
}
