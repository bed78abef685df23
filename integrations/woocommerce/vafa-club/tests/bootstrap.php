<?php
/**
 * Just enough of WordPress for the plugin's classes to run outside it: options, the current
 * user and locale as globals the tests set, and escaping as WordPress does it for these cases.
 */

declare(strict_types=1);

define('ABSPATH', __DIR__ . '/');
define('EP_ROOT', 64);
define('EP_PAGES', 4096);

$GLOBALS['vafa_test'] = ['options' => [], 'user' => 0, 'locale' => 'en_US', 'hooks' => []];

function get_option(string $name, mixed $default = false): mixed
{
    return $GLOBALS['vafa_test']['options'][$name] ?? $default;
}
function update_option(string $name, mixed $value): bool
{
    // As WordPress's sanitize_option(): the sanitize_callback register_setting() gave.
    $value = apply_filters('sanitize_option_' . $name, $value);
    $GLOBALS['vafa_test']['options'][$name] = $value;
    return true;
}
/** @param array<string, mixed> $args */
function register_setting(string $group, string $name, array $args = []): void
{
    if (isset($args['sanitize_callback'])) {
        add_filter('sanitize_option_' . $name, $args['sanitize_callback']);
    }
}
function apply_filters(string $hook, mixed $value, mixed ...$args): mixed
{
    foreach ($GLOBALS['vafa_test']['hooks'][$hook] ?? [] as $callback) {
        $value = $callback($value, ...$args);
    }
    return $value;
}
function get_current_user_id(): int
{
    return $GLOBALS['vafa_test']['user'];
}
function determine_locale(): string
{
    return $GLOBALS['vafa_test']['locale'];
}
function home_url(string $path = ''): string
{
    return 'https://shop.example' . $path;
}
function esc_attr(string $text): string
{
    return htmlspecialchars($text, ENT_QUOTES, 'UTF-8');
}
function esc_html(string $text): string
{
    return htmlspecialchars($text, ENT_QUOTES, 'UTF-8');
}
function esc_url(string $url): string
{
    $scheme = strtolower((string) parse_url($url, PHP_URL_SCHEME));
    return in_array($scheme, ['http', 'https'], true) ? htmlspecialchars($url, ENT_QUOTES, 'UTF-8') : '';
}
function __(string $text, string $domain = 'default'): string
{
    return $text;
}
function esc_html__(string $text, string $domain = 'default'): string
{
    return esc_html($text);
}
function add_action(string $hook, callable $callback, int $priority = 10, int $args = 1): bool
{
    $GLOBALS['vafa_test']['hooks'][$hook][] = $callback;
    return true;
}
function add_filter(string $hook, callable $callback, int $priority = 10, int $args = 1): bool
{
    return add_action($hook, $callback, $priority, $args);
}
function add_rewrite_endpoint(string $name, int $places): void
{
}
function rest_url(string $path = ''): string
{
    return 'https://shop.example/wp-json/' . ltrim($path, '/');
}
function wp_create_nonce(string $action): string
{
    return 'nonce-' . $action;
}
function register_rest_route(string $namespace, string $route, array $args): bool
{
    $GLOBALS['vafa_test']['routes'][$namespace . $route] = $args;
    return true;
}
function is_user_logged_in(): bool
{
    return $GLOBALS['vafa_test']['user'] > 0;
}
function nocache_headers(): void
{
    $GLOBALS['vafa_test']['nocache'] = true;
}
function current_user_can(string $capability): bool
{
    return $GLOBALS['vafa_test']['user'] === 1;
}
function settings_fields(string $group): void
{
    echo '<input type="hidden" name="option_page" value="' . esc_attr($group) . '"><input type="hidden" name="_wpnonce" value="nonce">';
}
function submit_button(): void
{
    echo '<button type="submit">Save</button>';
}

require_once dirname(__DIR__) . '/includes/class-vafa-token.php';
require_once dirname(__DIR__) . '/includes/class-vafa-settings.php';
require_once dirname(__DIR__) . '/includes/class-vafa-widget.php';
