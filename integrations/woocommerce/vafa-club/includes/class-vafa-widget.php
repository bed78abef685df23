<?php
/**
 * The club in front of the shopper: Vafa's <vafa-club> web component on every page, a points
 * section in My Account and the member's points at checkout. A logged-in customer's element
 * carries a fresh token; a guest's carries none and sees the club's public face.
 */

declare(strict_types=1);

final class Vafa_Widget
{
    public const ENDPOINT = 'vafa-points';
    public const TOKEN_ROUTE_NAMESPACE = 'vafa/v1';
    public const TOKEN_ROUTE = '/token';

    public function __construct(private Vafa_Settings $settings)
    {
    }

    public function register(): void
    {
        add_action('wp_footer', [$this, 'render_launcher']);
        add_action('init', [self::class, 'add_account_endpoint']);
        add_filter('woocommerce_account_menu_items', [$this, 'account_menu']);
        add_action('woocommerce_account_' . self::ENDPOINT . '_endpoint', [$this, 'render_account']);
        add_action('woocommerce_review_order_before_payment', [$this, 'render_checkout']);
        add_action('rest_api_init', [$this, 'register_token_route']);
    }

    public static function add_account_endpoint(): void
    {
        add_rewrite_endpoint(self::ENDPOINT, EP_ROOT | EP_PAGES);
    }

    /** @param array<string, string> $items */
    public function account_menu(array $items): array
    {
        $logout = $items['customer-logout'] ?? null;
        unset($items['customer-logout']);
        $items[self::ENDPOINT] = __('Club points', 'vafa-club');
        if ($logout !== null) {
            $items['customer-logout'] = $logout;
        }
        return $items;
    }

    public function render_launcher(): void
    {
        echo $this->element('launcher'); // phpcs:ignore WordPress.Security.EscapeOutput -- escaped in element()
    }

    public function render_account(): void
    {
        echo $this->element('account'); // phpcs:ignore WordPress.Security.EscapeOutput
    }

    public function render_checkout(): void
    {
        echo $this->element('checkout'); // phpcs:ignore WordPress.Security.EscapeOutput
    }

    /** The markup for one view; empty until the plugin is configured. */
    public function element(string $view, ?int $now = null): string
    {
        if (!$this->settings->is_configured()) {
            return '';
        }
        $s = $this->settings->get();
        $attributes = [
            'data-platform' => 'woocommerce',
            'data-shop' => $s['shop_id'],
            'data-api' => $s['vafa_url'] . '/storefront/woocommerce/' . $s['shop_id'],
            'data-locale' => self::locale(),
            'data-view' => $view,
        ];
        if ($s['colour'] !== '') {
            $attributes['data-colour'] = $s['colour'];
        }
        $user = get_current_user_id();
        if ($user > 0) {
            $attributes['data-token'] = Vafa_Token::make($s['storefront_secret'], (string) $user, $now ?? time());
            // A page open longer than the token lives asks for a new one (same origin, the
            // customer's own cookie and WordPress's REST nonce).
            $attributes['data-token-url'] = rest_url(self::TOKEN_ROUTE_NAMESPACE . self::TOKEN_ROUTE);
            $attributes['data-nonce'] = wp_create_nonce('wp_rest');
        }
        $html = '';
        foreach ($attributes as $name => $value) {
            $html .= ' ' . $name . '="' . esc_attr($value) . '"';
        }
        $script = sprintf(
            '<script src="%s" async></script>',
            esc_url($s['vafa_url'] . '/widget/v1/vafa.js')
        );
        return $script . '<vafa-club' . $html . '></vafa-club>';
    }

    public function register_token_route(): void
    {
        register_rest_route(self::TOKEN_ROUTE_NAMESPACE, self::TOKEN_ROUTE, [
            'methods' => 'GET',
            'callback' => [$this, 'fresh_token'],
            'permission_callback' => static fn (): bool => is_user_logged_in(),
        ]);
    }

    /**
     * A fresh token for the logged-in customer; never cached (it names who asked).
     *
     * @return array{token: string}
     */
    public function fresh_token(?int $now = null): array
    {
        nocache_headers();
        $s = $this->settings->get();
        return ['token' => Vafa_Token::make($s['storefront_secret'], (string) get_current_user_id(), $now ?? time())];
    }

    /** fa for a Persian site, else en (the two languages the widget speaks). */
    public static function locale(): string
    {
        return str_starts_with(determine_locale(), 'fa') ? 'fa' : 'en';
    }
}
