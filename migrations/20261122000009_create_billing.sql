-- WebMagic billing: customers, their subscriptions and payments (Recurrente).
CREATE TABLE customers (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id          UUID REFERENCES prospects (public_id) ON DELETE SET NULL,
    site_id              UUID REFERENCES generated_sites (id) ON DELETE SET NULL,
    recurrente_user_id   VARCHAR(50) CONSTRAINT customers_recurrente_user_id_key UNIQUE,
    email                VARCHAR(255) NOT NULL,
    full_name            VARCHAR(255),
    phone                VARCHAR(50),
    billing_name         VARCHAR(255),
    billing_tax_id       VARCHAR(50),
    billing_address      TEXT,
    status               VARCHAR(30) NOT NULL DEFAULT 'active'
        CONSTRAINT customers_status_check CHECK (status IN ('active', 'past_due', 'cancelled', 'churned')),
    lifetime_value_cents INTEGER NOT NULL DEFAULT 0 CHECK (lifetime_value_cents >= 0),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_customers_email ON customers (email);
CREATE INDEX idx_customers_recurrente ON customers (recurrente_user_id);
CREATE INDEX idx_customers_status ON customers (status);
CREATE INDEX idx_customers_business ON customers (business_id) WHERE business_id IS NOT NULL;

CREATE TRIGGER customers_updated_at BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE subscriptions (
    id                         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id                UUID NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    site_id                    UUID REFERENCES generated_sites (id) ON DELETE SET NULL,
    recurrente_subscription_id VARCHAR(50) CONSTRAINT subscriptions_recurrente_subscription_id_key UNIQUE,
    recurrente_checkout_id     VARCHAR(50),
    amount_cents               INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency                   VARCHAR(3) NOT NULL DEFAULT 'GTQ' CHECK (currency ~ '^[A-Z]{3}$'),
    status                     VARCHAR(30) NOT NULL DEFAULT 'active'
        CONSTRAINT subscriptions_status_check CHECK (status IN ('active', 'past_due', 'paused', 'cancelled')),
    current_period_start       TIMESTAMPTZ,
    current_period_end         TIMESTAMPTZ,
    started_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    cancelled_at               TIMESTAMPTZ,
    created_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_period_check
        CHECK (current_period_end IS NULL OR current_period_start IS NULL
               OR current_period_end >= current_period_start)
);

CREATE INDEX idx_subscriptions_customer ON subscriptions (customer_id);
CREATE INDEX idx_subscriptions_status ON subscriptions (status);
CREATE INDEX idx_subscriptions_recurrente ON subscriptions (recurrente_subscription_id);

CREATE TRIGGER subscriptions_updated_at BEFORE UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE payments (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id            UUID NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    subscription_id        UUID REFERENCES subscriptions (id) ON DELETE SET NULL,
    recurrente_payment_id  VARCHAR(50) CONSTRAINT payments_recurrente_payment_id_key UNIQUE,
    recurrente_checkout_id VARCHAR(50),
    amount_cents           INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency               VARCHAR(3) NOT NULL DEFAULT 'GTQ' CHECK (currency ~ '^[A-Z]{3}$'),
    fee_cents              INTEGER CHECK (fee_cents >= 0),
    net_cents              INTEGER,
    payment_type           VARCHAR(30) NOT NULL
        CONSTRAINT payments_payment_type_check CHECK (payment_type IN ('one_time', 'subscription', 'refund')),
    status                 VARCHAR(30) NOT NULL DEFAULT 'pending'
        CONSTRAINT payments_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    payment_method         VARCHAR(30)
        CONSTRAINT payments_payment_method_check CHECK (payment_method IN ('card', 'bank_transfer')),
    card_last4             VARCHAR(4) CHECK (card_last4 ~ '^[0-9]{4}$'),
    card_network           VARCHAR(20),
    paid_at                TIMESTAMPTZ,
    refunded_at            TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_payments_customer ON payments (customer_id);
CREATE INDEX idx_payments_subscription ON payments (subscription_id);
CREATE INDEX idx_payments_status ON payments (status);
CREATE INDEX idx_payments_recurrente ON payments (recurrente_payment_id);
CREATE INDEX idx_payments_paid_at ON payments (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX idx_payments_created_at ON payments (created_at);
